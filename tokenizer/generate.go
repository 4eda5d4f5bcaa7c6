package tokenizer

//go:generate sh -c "/usr/bin/python3 gen/gentables.py > tables.go && gofmt -w tables.go"
