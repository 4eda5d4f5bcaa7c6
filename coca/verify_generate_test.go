package coca

import (
	"bytes"
	"testing"
)

func TestVerifyGenerateFixtures(t *testing.T) {
	var buf bytes.Buffer
	fails, err := VerifyGenerate("../golden/testdata/generate/tiny", &buf, VerifyGenerateOptions{})
	t.Logf("\n%s", buf.String())
	if err != nil {
		t.Fatal(err)
	}
	if fails > 0 {
		t.Fatalf("%d cases differ", fails)
	}
}
