package agentdesk

import (
	"errors"
	"io"
	"net/http"

	"github.com/lianxin/lianxin/queue"
)

// recording serves a call's recording (GET /api/contacts/{tn}/recording)
// to supervisors and to the agent who took the call, nobody else (403); the
// token comes in the Authorization header only.
func (s *Server) recording(w http.ResponseWriter, r *http.Request) {
	id, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	tn := r.PathValue("tn")
	if !queue.ValidTrackingNo(tn) {
		WriteError(w, http.StatusBadRequest, "bad_tracking_no", "tracking_no: not a tracking number")
		return
	}
	c, err := s.q.Contact(r.Context(), tn)
	switch {
	case errors.Is(err, queue.ErrNotFound):
		WriteError(w, http.StatusNotFound, "not_found", "no contact "+tn)
		return
	case err != nil:
		WriteError(w, http.StatusServiceUnavailable, "unavailable", "cannot look this up now, try again")
		return
	}
	if !s.agents[id].Supervisor && (c.Agent == "" || c.Agent != id) {
		WriteError(w, http.StatusForbidden, "forbidden", "only supervisors and the agent who took the call may play its recording")
		return
	}
	if c.Recording == nil || s.blobs == nil {
		WriteError(w, http.StatusNotFound, "no_recording", "this contact has no recording")
		return
	}
	rc, size, err := s.blobs.Open(r.Context(), c.Recording.SHA256)
	if err != nil {
		WriteError(w, http.StatusNotFound, "no_recording", "the recording is gone (past its retention)")
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", c.Recording.Type)
	w.Header().Set("Content-Disposition", `inline; filename="`+tn+`.wav"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "sandbox")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", itoa(size))
	_, _ = io.Copy(w, rc)
}
