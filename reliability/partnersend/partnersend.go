// Package partnersend posts signed partner webhooks to a gateway the way a partner does: the
// same body is resent after any non-2xx answer or connection error, with exponential backoff
// and jitter, until the gateway acknowledges it with a 2xx or the context ends.
package partnersend

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/covergate/covergate/server/partners/etvas"
	"github.com/covergate/covergate/server/sandbox/etvas/etvasdefaults"
)
