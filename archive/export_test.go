package archive

import "context"

// The report's statements, for the benchmark's query plans.
const (
	ReportSQL    = reportSQL
	OccupancySQL = occupancySQL
	ProblemsSQL  = problemsSQL
)

// CommonProblems runs the common problems' part of a report alone.
func (s *Store) CommonProblems(ctx context.Context, p Period, received int) ([]Problem, int, int, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, 0, 0, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	return s.commonProblems(ctx, tx, p, received)
}
