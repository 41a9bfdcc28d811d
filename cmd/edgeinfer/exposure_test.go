package main

import "testing"

// Loopback listens without a token; anything reachable from the network
// needs one.
func TestCheckExposure(t *testing.T) {
	tests := []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:8790", "", true},
		{"[::1]:8790", "", true},
		{"localhost:8790", "", true},
		{"127.8.9.10:8790", "", true},
		{"0.0.0.0:8790", "", false},
		{":8790", "", false},
		{"[::]:8790", "", false},
		{"192.168.1.5:8790", "", false},
		{"example.com:8790", "", false},
		{"0.0.0.0:8790", "tok", true},
		{"not an address", "", false},
	}
	for _, tt := range tests {
		if err := checkExposure(tt.addr, tt.token); (err == nil) != tt.ok {
			t.Errorf("checkExposure(%q, %q) = %v, want ok=%v", tt.addr, tt.token, err, tt.ok)
		}
	}
}
