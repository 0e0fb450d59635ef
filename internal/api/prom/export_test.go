package prom

// CountV2Series is countV2Series, for the fuzz test of package prom_test.
var CountV2Series = countV2Series
