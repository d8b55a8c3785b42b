// Package demodata ships the demo data set in the binary: a sample of a synthetic multilingual
// support-ticket data set (CC BY-NC 4.0; source and licence in README.md beside this file).
package demodata

import _ "embed"

// TicketsCSV is tickets-multilang.csv: header plus 294 records.
//
//go:embed tickets-multilang.csv
var TicketsCSV []byte
