package postbode

// Version is this library's version: Postbode's (clients/versions.py keeps them equal).
const Version = "0.1.0"
