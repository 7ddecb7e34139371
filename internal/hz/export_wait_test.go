package hz

import "time"

// SetWaitClock makes c's poller read now and wait with sleep, so that a test can run it on a
// simulator's manual clock: every poll then happens at a known simulated moment, instantly.
func SetWaitClock(c *Client, now func() time.Time, sleep func(time.Duration)) {
	c.waiter.mu.Lock()
	defer c.waiter.mu.Unlock()
	c.waiter.now, c.waiter.sleep = now, sleep
}

// PendingActions is the number of actions c's poller is waiting for.
func PendingActions(c *Client) int {
	c.waiter.mu.Lock()
	defer c.waiter.mu.Unlock()
	return len(c.waiter.pending)
}
