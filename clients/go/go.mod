module github.com/postbode/postbode/clients/go

go 1.19
