module github.com/gococa/gococa

go 1.26.0

require github.com/klauspost/cpuid/v2 v2.4.2

require (
	golang.org/x/image v0.48.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/text v0.44.0 // indirect
)
