package tokenizer_test

import (
	"fmt"

	"github.com/gococa/gococa/tokenizer"
)

func Example() {
	tok := tokenizer.New()
	ids := tok.Tokenize("A Photo Of A CAT.", 12)
	fmt.Println(ids)
	fmt.Println(tok.Encode("A Photo Of A CAT."))
	fmt.Printf("%q\n", tok.Decode(tok.TrimSpecial(ids)))
	// Output:
	// [49406 320 1125 539 320 2368 269 49407 0 0 0 0]
	// [320 1125 539 320 2368 269]
	// "a photo of a cat . "
}
