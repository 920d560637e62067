package dialog

import (
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a broker message is dropped or a dialog refused; the label values
// of the metrics.
const (
	ReasonGarbage        = "garbage"          // not decryptable or not parseable
	ReasonBadSignature   = "bad_signature"    // signed by someone else, or not signed
	ReasonTampered       = "tampered"         // AEAD authentication failed
	ReasonReplayed       = "replayed"         // a sequence number or dialog id seen before
	ReasonTooOld         = "too_old"          // behind the replay window
	ReasonStale          = "stale"            // a dialog-create outside the clock skew
	ReasonWrongPeer      = "wrong_peer"       // addressed to another identity, or sent as another
	ReasonUnregistered   = "unregistered"     // consumer not registered
	ReasonCapacity       = "capacity"         // too many dialogs
	ReasonUnknownDialog  = "unknown_dialog"   // a message for a dialog not open here
	ReasonRegistryFailed = "registry_failure" // could not ask the registry
	ReasonOverload       = "overload"         // over the provider's create rate or queue
	ReasonRateLimited    = "rate_limited"     // over one consumer's create rate
	ReasonPerConsumer    = "per_consumer"     // one consumer's dialogs at their cap
	ReasonSilent         = "silent"           // a dialog its consumer never used, closed
)

// Metrics counts what the dialogs of a node do. One Metrics serves every
// dialog and listener of a node.
type Metrics struct {
	Dropped  *prometheus.CounterVec // broker messages dropped, by reason
	Refused  *prometheus.CounterVec // dialog-creates refused, by reason
	Opened   *prometheus.CounterVec // dialogs opened, by role
	Messages *prometheus.CounterVec // sealed messages, by direction (sent, received)
	// CreateSeconds is how long a provider took to check and answer a
	// dialog-create, from a worker taking it.
	CreateSeconds prometheus.Histogram

	logger  *slog.Logger
	mu      sync.Mutex
	lastLog map[string]time.Time
}

// NewMetrics creates the counters and registers them with reg (nil: not
// registered, for tests).
func NewMetrics(reg prometheus.Registerer, logger *slog.Logger) *Metrics {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "myst_dialog_dropped_messages_total", Help: "Broker messages dropped by the dialog layer, by reason.",
		}, []string{"reason"}),
		Refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "myst_dialog_refused_total", Help: "Dialog-create requests refused, by reason.",
		}, []string{"reason"}),
		Opened: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "myst_dialog_opened_total", Help: "Dialogs opened, by role (consumer, provider).",
		}, []string{"role"}),
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "myst_dialog_messages_total", Help: "Sealed dialog messages, by direction (sent, received).",
		}, []string{"direction"}),
		CreateSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "myst_dialog_create_seconds", Help: "Time a provider took to check and answer a dialog-create.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		logger:  logger,
		lastLog: map[string]time.Time{},
	}
	if reg != nil {
		reg.MustRegister(m.Dropped, m.Refused, m.Opened, m.Messages, m.CreateSeconds)
	}
	return m
}

// logInterval bounds how often one reason is logged, so a flood of garbage
// is counted but not echoed line by line.
const logInterval = 10 * time.Second

func (m *Metrics) drop(reason, subject string, err error) {
	m.Dropped.WithLabelValues(reason).Inc()
	m.logOnce("dropped broker message", reason, subject, err)
}

func (m *Metrics) refuse(reason, subject string, err error) {
	m.Refused.WithLabelValues(reason).Inc()
	m.logOnce("refused dialog", reason, subject, err)
}

func (m *Metrics) logOnce(msg, reason, subject string, err error) {
	key := msg + reason
	m.mu.Lock()
	last, seen := m.lastLog[key]
	now := time.Now()
	quiet := seen && now.Sub(last) < logInterval
	if !quiet {
		m.lastLog[key] = now
	}
	m.mu.Unlock()
	if !quiet {
		m.logger.Warn(msg, "reason", reason, "subject", subject, "err", err)
	}
}
