package sim_test

import (
	"strconv"
)

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

func errCode(r rawResponse) string {
	e, _ := r.body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}
