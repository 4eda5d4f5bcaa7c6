package tokenizer

import (
	"fmt"
	"testing"
)

// benchCaptions are ordinary English image captions.
var benchCaptions = []string{
	"A man riding a wave on top of a surfboard.",
	"Two dogs playing with a frisbee in a grassy park.",
	"A plate of food with broccoli, rice and grilled chicken.",
	"A red double-decker bus driving down a busy city street.",
	"A young girl holding an umbrella in the rain.",
	"A kitchen with white cabinets and a stainless steel refrigerator.",
	"An airplane flying over a mountain range at sunset.",
	"A cat sleeping on a laptop keyboard next to a cup of coffee.",
	"People walking on a beach near the ocean on a cloudy day.",
	"A bowl of fresh fruit including bananas, apples and oranges.",
	"A baseball player swinging a bat at a pitch during a game.",
	"A giraffe standing next to a tree in a zoo enclosure.",
	"Several boats docked in a harbor with buildings behind them.",
	"A woman sitting on a bench reading a book in the park.",
	"A train traveling down the tracks past a small station.",
	"A close up of a pizza with pepperoni and melted cheese.",
	"A bathroom with a toilet, a sink and a large mirror.",
	"A group of skiers going down a snowy slope.",
	"An elephant walking through tall grass in the savanna.",
	"A living room with a couch, a television and a wooden coffee table.",
	"A child flying a kite on a windy hill.",
	"A stop sign on the corner of a quiet residential street.",
	"Horses grazing in a field surrounded by a white fence.",
	"A man in a suit talking on his cell phone outside an office.",
	"A vase filled with yellow and purple flowers on a table.",
	"A skateboarder doing a trick on a ramp at a skate park.",
	"Cars parked along the road in front of old brick houses.",
	"A sandwich and a bowl of soup on a wooden tray.",
	"Two zebras standing side by side on a dirt road.",
	"A little boy brushing his teeth in front of the mirror.",
	"A tennis player reaching for the ball on a clay court.",
	"A bicycle leaning against a lamp post on a sidewalk.",
}

// benchNonASCII are captions outside plain ASCII: they take the full
// cleaning path (ftfy's fixes, mojibake detection, Unicode lowercasing).
var benchNonASCII = []string{
	"A man’s bicycle leaning against a café wall in the old town of Montréal.",
	"Crème brûlée and a cup of coffee on a marble table.",
	"The “Golden Gate” bridge at dawn, seen from Fort Point.",
	"Кошка сидит на подоконнике и смотрит на дождь.",
	"東京タワーと富士山の夜景",
	"A dog wearing sunglasses 😎 on the beach 🏖️",
	"Tom &amp; Jerry poster in a shop window",
	"Straße in München mit Fahrrädern und Bäumen",
}

// BenchmarkTokenizer tokenizes captions to CoCa's context length (76) on one
// goroutine, with the word cache warm, and reports tokens/s (BPE ids
// produced, without SOT, EOT and padding). text=english are ordinary
// English captions, text=nonascii captions with accents, curly quotes,
// other scripts, emoji and entities.
func BenchmarkTokenizer(b *testing.B) {
	tok := New()
	for _, set := range []struct {
		name  string
		texts []string
	}{{"english", benchCaptions}, {"nonascii", benchNonASCII}} {
		tokens := 0
		for _, c := range set.texts {
			tokens += len(tok.Encode(c))
		}
		b.Run(fmt.Sprintf("impl=go/text=%s", set.name), func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				for _, c := range set.texts {
					tok.Tokenize(c, 76)
				}
			}
			b.ReportMetric(float64(tokens)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// BenchmarkTokenizerCold measures words that miss the cache: each iteration
// uses a fresh Tokenizer.
func BenchmarkTokenizerCold(b *testing.B) {
	tokens := 0
	for _, c := range benchCaptions {
		tokens += len(New().Encode(c))
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		tok2 := freshCache(New())
		b.StartTimer()
		for _, c := range benchCaptions {
			tok2.Tokenize(c, 76)
		}
	}
	b.ReportMetric(float64(tokens)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// freshCache returns a Tokenizer sharing t's vocabulary with an empty cache.
func freshCache(t *Tokenizer) *Tokenizer {
	c := &Tokenizer{
		encoder: t.encoder, tokens: t.tokens, byteID: t.byteID, byteEndID: t.byteEndID,
		ranks: t.ranks, numMerges: t.numMerges, sot: t.sot, eot: t.eot,
	}
	c.cache.init(defaultCacheSize)
	return c
}
