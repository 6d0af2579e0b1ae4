// Package promtext writes and checks the Prometheus text exposition
// format, version 0.0.4 (Content-Type "text/plain; version=0.0.4"):
//
//	# HELP phone_calls_active Calls in progress.
//	# TYPE phone_calls_active gauge
//	phone_calls_active{line="0"} 1
//
// Writer is all the phone needs to serve /metrics without a client
// library; Parse is a strict reader of the same format for tests: every
// family has its HELP and TYPE before its samples, names and label names
// are valid, label values are escaped, a family's samples are together
// and no series appears twice.
package promtext
