package cmd

import (
	"log"
	"log/slog"

	errlog "chatserver/internal/logger"
	"chatserver/internal/throttle"
)

// stdLogBurst is how many lines of a kind the standard log package may
// write a minute before the rest are counted.
const stdLogBurst = 10

// stdLogMsg is the message of a line of the standard log package, which
// is its "err" attribute.
const stdLogMsg = "library error"

// routeStandardLog makes logger slog's default and sends the lines of the
// standard log package, where libraries such as the metrics one write
// their errors, to it as warnings (message stdLogMsg, throttled by their
// first words), so that they take --log-format and --log-level like every
// other line. The returned restore logs what is still counted and puts
// back the defaults as they were, for a serve run inside a test process.
func routeStandardLog(logger *slog.Logger) (restore func()) {
	prev, out, flags := slog.Default(), log.Writer(), log.Flags()
	lines := throttle.New(logger, slog.LevelWarn, stdLogBurst)
	// slog.SetDefault would also send the log package to logger, but at
	// INFO and without a throttle; the output set below replaces that.
	slog.SetDefault(logger)
	log.SetOutput(errlog.New(lines, stdLogMsg, nil).Writer())
	log.SetFlags(0)
	return func() {
		lines.Close()
		slog.SetDefault(prev)
		log.SetOutput(out)
		log.SetFlags(flags)
	}
}
