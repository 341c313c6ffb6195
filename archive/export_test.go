package archive

// The report's statements, for the benchmark's query plans.
const (
	ReportSQL    = reportSQL
	OccupancySQL = occupancySQL
)
