package tokenizer

// The generators need Debian's /usr/bin/python3 with the regex and ftfy
// modules importable (see the scripts' documentation for the versions used).
//go:generate sh -c "/usr/bin/python3 gen/gentables.py > tables.go && gofmt -w tables.go"
//go:generate sh -c "/usr/bin/python3 gen/genftfy.py > ftfy_tables.go && gofmt -w ftfy_tables.go"
