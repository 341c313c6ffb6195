package sip

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/sip/media"
	"go.uber.org/zap"
)

// Blobs is the blob store recordings go to (channels/blobstore.Dir).
type Blobs interface {
	Put(ctx context.Context, r io.Reader, limit int64) (sha256 string, size int64, err error)
	Delete(ctx context.Context, sha256 string) error
}

// RecordingType is the media type of a recording (queue.Recording.Type).
const RecordingType = "audio/wav"

// recording is one call's recorder and its writer, writing to a temporary
// file until the call ends; then the file goes to the blob store and the
// contact refers to it.
type recording struct {
	rec  *media.Recorder
	file *os.File
	done chan error
	n    int64
}

// startRecording taps the caller's leg where the line records: what the
// caller says (left) and what the caller hears — prompts, hold audio, the
// agent (right).
func (c *call) startRecording() *recording {
	s := c.s
	if s.p.Blobs == nil || !s.cfg.Recording.records(c.line.Number) {
		return nil
	}
	f, err := os.CreateTemp("", "lianxin-rec-*.wav")
	if err != nil {
		c.log.Error("call not recorded: no temporary file", zap.Error(err))
		s.metrics.ivr.recordings.WithLabelValues("failed").Inc()
		return nil
	}
	r := &recording{rec: media.NewRecorder(s.cfg.Recording.Buffer), file: f, done: make(chan error, 1)}
	c.leg.SetTap(r.rec)
	go func() {
		n, err := r.rec.Run(f, s.cfg.Recording.MaxBytes)
		r.n = n
		r.done <- err
	}()
	return r
}

// finish stops the recording and stores it, once the call is over.
func (c *call) finishRecording(r *recording) {
	s := c.s
	c.leg.SetTap(nil)
	r.rec.Stop()
	err := <-r.done
	defer func() {
		_ = r.file.Close()
		_ = os.Remove(r.file.Name())
	}()
	s.metrics.ivr.recBytes.Add(float64(r.n))
	s.metrics.ivr.recDropped.Add(float64(r.rec.Dropped()))
	log := c.log.With(zap.Int64("bytes", r.n), zap.Uint64("dropped_frames", r.rec.Dropped()))
	if err != nil && err != media.ErrTooLong {
		log.Error("recording failed", zap.Error(err))
		s.metrics.ivr.recordings.WithLabelValues("failed").Inc()
		return
	}
	tn := c.trackingNo()
	if tn == "" {
		// The caller left before the call became a contact (or the IVR
		// answered them): nothing to refer to it.
		s.metrics.ivr.recordings.WithLabelValues("discarded").Inc()
		return
	}
	if _, err := r.file.Seek(0, io.SeekStart); err != nil {
		log.Error("recording not stored", zap.Error(err))
		s.metrics.ivr.recordings.WithLabelValues("failed").Inc()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sha, _, err := s.p.Blobs.Put(ctx, r.file, s.cfg.Recording.MaxBytes+media.WAVHeaderSize)
	if err == nil {
		err = s.q.SetRecording(ctx, tn, queue.Recording{SHA256: sha, Type: RecordingType})
	}
	if err != nil {
		log.Error("recording not stored", zap.Error(err))
		s.metrics.ivr.recordings.WithLabelValues("failed").Inc()
		return
	}
	s.metrics.ivr.recordings.WithLabelValues("stored").Inc()
	log.Info("call recorded", zap.String("sha256", sha))
}

// recordingJanitor deletes recordings past the retention period, at start
// and then hourly. Several nodes doing it at once is harmless.
func (s *Server) recordingJanitor(ctx context.Context) error {
	if s.p.Blobs == nil {
		return nil
	}
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if _, err := s.sweepRecordings(ctx, time.Now().Add(-s.cfg.Recording.Retention)); err != nil && ctx.Err() == nil {
			s.log.Warn("recording retention sweep failed", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// sweepRecordings deletes the recordings made before cutoff and reports
// how many.
func (s *Server) sweepRecordings(ctx context.Context, cutoff time.Time) (int, error) {
	n := 0
	for {
		old, err := s.q.ExpiredRecordings(ctx, cutoff, 100)
		if err != nil || len(old) == 0 {
			return n, err
		}
		for tn, sha := range old {
			if sha != "" {
				if err := s.p.Blobs.Delete(ctx, sha); err != nil {
					return n, err
				}
			}
			if err := s.q.ForgetRecording(ctx, tn); err != nil {
				return n, err
			}
			n++
			s.metrics.ivr.recDeleted.Inc()
		}
	}
}
