//go:build chdb

package chsql

// openChDB opens chDB for Open (this binary was built with -tags chdb).
func openChDB(dir, database string) (Conn, error) { return OpenChDB(dir, database) }
