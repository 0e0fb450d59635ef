//go:build chdb

package chsql

import (
	"context"
	"fmt"
)

// RawQuery returns chDB's output for q on c, a Conn of OpenChDB, as JSONRows would read it.
func RawQuery(c Conn, q string) ([]byte, error) {
	cc, ok := c.(*chdbConn)
	if !ok {
		return nil, fmt.Errorf("not a chDB Conn: %T", c)
	}
	return cc.query(context.Background(), q)
}
