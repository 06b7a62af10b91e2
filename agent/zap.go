package agent

import (
	"errors"

	"go.uber.org/zap"
)

var errKeepAliveEnded = errors.New("lease keep-alive ended")

// nopZap silences the etcd client's own logger; errors reach us as values.
func nopZap() *zap.Logger { return zap.NewNop() }
