package discovery

import (
	"net/url"
	"reflect"
	"testing"
)

// TestFilterQueryRoundTrip: a filter the API accepts survives its query
// form unchanged (what the node sends is what discovery's store searches).
func TestFilterQueryRoundTrip(t *testing.T) {
	for _, q := range []string{
		"",
		"service_type=wireguard&country=DE&metering=bytes&max_price_gib=0.5&max_price_hour=0.01",
		"min_bandwidth=12.5&reachability=public,mapped&port=443&min_session_mbit=20&limit=10&offset=20",
		"provider_id=0x00000000000000000000000000000000000000aa&cursor=" + EncodeCursor(Key{ProviderID: "0x00000000000000000000000000000000000000bb", ServiceType: "noop"}),
	} {
		v, err := url.ParseQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		f, err := ParseFilter(v)
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		back, err := ParseFilter(f.Query())
		if err != nil {
			t.Fatalf("%q: its query %q: %v", q, f.Query().Encode(), err)
		}
		if !reflect.DeepEqual(back, f) {
			t.Errorf("%q: %+v came back as %+v", q, f, back)
		}
	}
}
