package ethsign

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"testing"
)

// Hardhat / Anvil account #0 — a published development key, never a real one.
const (
	hardhatKey     = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
	hardhatAddress = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
)

// Known vectors published by other implementations (not produced by this code):
//   - viem src/accounts/utils/signMessage.test.ts (Hardhat account #0);
//   - ethers test-wallet "Test Signing Messages" (etherscan.io/verifySig/57);
//   - MetaMask eth-sig-util personal-sign.test.ts ("Hello, world!").
var signVectors = []struct {
	name, key, address, message, signature string
}{
	{"viem hello world", hardhatKey, hardhatAddress, "hello world",
		"0xa461f509887bd19e312c0c58467ce8ff8e300d3c1a90b608a760c5b80318eaf15fe57c96f9175d6cd4daad4663763baa7e78836e067d0163e9a2ccf2ff753f5b1b"},
	{"viem emoji (multi-byte length)", hardhatKey, hardhatAddress, "🥵",
		"0x05c99bbbe9fac3ad61721a815d19d6771ad39f3e8dffa7ae7561358f20431d8e7f9e1d487c77355790c79c6eb0b0d63690f690615ef99ee3e4f25eef0317d0701b"},
	// Early viem hex-decoded "0x…" strings; its vector is therefore the
	// signature of the 32 raw bytes (see TestHexStringIsNotDecoded).
	{"viem raw 32 bytes", hardhatKey, hardhatAddress, mustHex("a70d0af2ebb03a44dcd0714a8724f622e3ab876d0aa312f0ee04823285d6fb1b"),
		"0x1a7fd732f926be0a1dbfd1b4acbd7a6f7198fda1ab5ef69ef027a2eee89987785d210298e12119a1d62b5a7d2d9f24d075682675ae00f51a5602e725f0d180851b"},
	{"ethers hello world", "0x0123456789012345678901234567890123456789012345678901234567890123", "0x14791697260E4c9A71f18484C9f997B308e59325", "hello world",
		"0xddd0a7290af9526056b4e35a077b9a11b513aa0028ec6c9880948544508f3c63265e99e47ad31bb2cab9646c504576b3abc6939a1710afc08cbf3034d73214b81c"},
	{"eth-sig-util Hello, world!", "4af1bceebf7f3634ec3cff8a2c38e51178d5d4ce585c52d6043e5e2cc3418bb0", "", "Hello, world!",
		"0x90a938f7457df6e8f741264c32697fc52f9a8f867c52dd70713d9d2d472f2e415d9c94148991bbe1f4a1818d1dff09165782749c877f5cf1eff4ef126e55714d1c"},
}

func TestSignMessageKnownVectors(t *testing.T) {
	for _, tc := range signVectors {
		t.Run(tc.name, func(t *testing.T) {
			w, err := NewWallet(tc.key)
			if err != nil {
				t.Fatalf("NewWallet: %v", err)
			}
			if tc.address != "" && w.Address() != tc.address {
				t.Errorf("Address() = %s, want %s", w.Address(), tc.address)
			}
			got, err := w.SignMessage(tc.message)
			if err != nil {
				t.Fatalf("SignMessage: %v", err)
			}
			if got != tc.signature {
				t.Errorf("SignMessage(%q)\n got %s\nwant %s", tc.message, got, tc.signature)
			}
			rec, err := RecoverAddress(tc.message, tc.signature)
			if err != nil {
				t.Fatalf("RecoverAddress: %v", err)
			}
			if rec != w.Address() {
				t.Errorf("RecoverAddress = %s, want %s", rec, w.Address())
			}
		})
	}
}

func mustHex(s string) string {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// ethers signs a string as its UTF-8 bytes even when it looks like hex, so the
// policy UUID or nonce "0x…" must not be decoded: its signature differs from
// the raw-bytes vector above.
func TestHexStringIsNotDecoded(t *testing.T) {
	w, err := NewWallet(hardhatKey)
	if err != nil {
		t.Fatal(err)
	}
	got, err := w.SignMessage("0xa70d0af2ebb03a44dcd0714a8724f622e3ab876d0aa312f0ee04823285d6fb1b")
	if err != nil {
		t.Fatal(err)
	}
	if got == signVectors[2].signature {
		t.Fatal("a 0x string was signed as decoded bytes")
	}
	if err := VerifyMessage("0xa70d0af2ebb03a44dcd0714a8724f622e3ab876d0aa312f0ee04823285d6fb1b", got, hardhatAddress); err != nil {
		t.Fatal(err)
	}
}

func TestHashMessageKnownVectors(t *testing.T) {
	tests := []struct{ msg, want string }{
		// go-ethereum accounts/accounts_test.go TestTextHash.
		{"Hello Joe", "a080337ae51c4e064c189e113edd0ba391df9206e2f49db658bb32cf2911730b"},
		// ethers test-wallet messageHash.
		{"hello world", "d9eba16ed0ecae432b71fe008c98cc872bb4cc214d3220a36f365326cf807d68"},
	}
	for _, tc := range tests {
		if got := hex.EncodeToString(HashMessage(tc.msg)); got != tc.want {
			t.Errorf("HashMessage(%q) = %s, want %s", tc.msg, got, tc.want)
		}
	}
}

func TestNormalizeAddressEIP55(t *testing.T) {
	// Vectors from the EIP-55 specification.
	valid := []string{
		"0x52908400098527886E0F7030069857D2E4169EE7",
		"0x8617E340B3D01FA5F11F306F4090FD50E238070D",
		"0xde709f2102306220921060314715629080e2fb77",
		"0x27b1fdb04752bbc536007a920d24acb045561c26",
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
		"0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
		"0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
	}
	for _, a := range valid {
		got, err := NormalizeAddress(a)
		if err != nil {
			t.Errorf("NormalizeAddress(%s): %v", a, err)
			continue
		}
		if !strings.EqualFold(got, a) {
			t.Errorf("NormalizeAddress(%s) = %s", a, got)
		}
		mixed := a[2:] != strings.ToLower(a[2:]) && a[2:] != strings.ToUpper(a[2:])
		if mixed && got != a {
			t.Errorf("NormalizeAddress(%s) = %s, want the same checksum", a, got)
		}
	}
	invalid := []string{
		"", "0x", "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed", // broken checksum
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",  // short
		"0xZZAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
	}
	for _, a := range invalid {
		if _, err := NormalizeAddress(a); !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("NormalizeAddress(%q) err = %v, want ErrInvalidAddress", a, err)
		}
	}
}

func TestNewWalletRejectsBadKeys(t *testing.T) {
	tests := []struct{ name, key string }{
		{"empty", ""},
		{"short", "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff"},
		{"long", hardhatKey + "00"},
		{"not hex", "0xzz0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"},
		{"zero", "0x" + strings.Repeat("0", 64)},
		{"curve order", "0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141"},
		{"above order", "0x" + strings.Repeat("f", 64)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewWallet(tc.key)
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("err = %v, want ErrInvalidKey", err)
			}
			if tc.key != "" && strings.Contains(err.Error(), strings.TrimPrefix(tc.key, "0x")) {
				t.Fatalf("error leaks the key: %v", err)
			}
		})
	}
	for _, k := range []string{hardhatKey, strings.TrimPrefix(hardhatKey, "0x"), "  " + strings.ToUpper(hardhatKey[2:]) + "\n"} {
		w, err := NewWallet(k)
		if err != nil || w.Address() != hardhatAddress {
			t.Errorf("NewWallet(variant) = %v, %v", w, err)
		}
	}
}

func TestWalletNeverPrintsKey(t *testing.T) {
	w, err := NewWallet(hardhatKey)
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Info("wallet", "w", w)
	outputs := []string{
		fmt.Sprint(w), fmt.Sprintf("%v", w), fmt.Sprintf("%+v", w), fmt.Sprintf("%#v", w),
		//lint:ignore S1025 every formatting verb is exercised on purpose: none may print the key
		fmt.Sprintf("%s", w),
		logs.String(),
	}
	secret := strings.TrimPrefix(hardhatKey, "0x")
	for _, out := range outputs {
		if strings.Contains(strings.ToLower(out), secret) {
			t.Errorf("output leaks key: %s", out)
		}
		if !strings.Contains(out, hardhatAddress) {
			t.Errorf("output %q should name the address", out)
		}
	}
}

// curveOrder is the secp256k1 group order N.
var curveOrder, _ = new(big.Int).SetString("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", 16)

func TestRecoverAddressSignatureForms(t *testing.T) {
	const msg = "hello world"
	good := signVectors[0].signature
	raw, _ := hex.DecodeString(good[2:])

	withV := func(v byte) string {
		b := append([]byte(nil), raw...)
		b[64] = v
		return "0x" + hex.EncodeToString(b)
	}
	// The malleable twin (r, N-s, flipped v) is a mathematically valid
	// signature by the same key; ethers rejects it and so must we.
	highS := func() string {
		b := append([]byte(nil), raw...)
		s := new(big.Int).SetBytes(b[32:64])
		new(big.Int).Sub(curveOrder, s).FillBytes(b[32:64])
		b[64] = 55 - b[64] // 27 <-> 28
		return "0x" + hex.EncodeToString(b)
	}()
	tests := []struct {
		name    string
		sig     string
		want    string
		wantErr bool
	}{
		{"v=27 form", good, hardhatAddress, false},
		{"v=0 form", withV(raw[64] - 27), hardhatAddress, false},
		{"no 0x prefix", good[2:], hardhatAddress, false},
		{"upper-case hex", "0x" + strings.ToUpper(good[2:]), hardhatAddress, false},
		{"flipped v recovers another key", withV(55 - raw[64]), "", false},
		{"v=2", withV(2), "", true},
		{"v=29", withV(29), "", true},
		{"high s", highS, "", true},
		{"short", good[:len(good)-2], "", true},
		{"empty", "", "", true},
		{"not hex", "0x" + strings.Repeat("g", 130), "", true},
		{"zero r and s", "0x" + strings.Repeat("0", 128) + "1b", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RecoverAddress(msg, tc.sig)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidSignature) {
					t.Fatalf("err = %v, want ErrInvalidSignature", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("RecoverAddress: %v", err)
			}
			if tc.want != "" && got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
			if tc.want == "" && got == hardhatAddress {
				t.Fatalf("flipped v must not recover the signer")
			}
		})
	}
}

func TestVerifyMessage(t *testing.T) {
	sig := signVectors[0].signature
	tests := []struct {
		name, msg, addr string
		wantErr         error
	}{
		{"checksummed", "hello world", hardhatAddress, nil},
		{"lower-case address", "hello world", strings.ToLower(hardhatAddress), nil},
		{"other message", "hello world!", hardhatAddress, ErrInvalidSignature},
		{"other address", "hello world", "0x14791697260E4c9A71f18484C9f997B308e59325", ErrInvalidSignature},
		{"bad address", "hello world", "0x1234", ErrInvalidAddress},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyMessage(tc.msg, sig, tc.addr)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestSignRecoverRoundTrip(t *testing.T) {
	w, err := NewWallet(hardhatKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"", "a", "0x", "3f1c7a42-9f55-4b4e-8a4e-2b7c0c8f8f10", strings.Repeat("x", 1000), "ünïcødé ✓"} {
		sig, err := w.SignMessage(msg)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyMessage(msg, sig, w.Address()); err != nil {
			t.Errorf("VerifyMessage(%q): %v", msg, err)
		}
	}
}

func FuzzRecoverAddress(f *testing.F) {
	for _, v := range signVectors {
		f.Add(v.message, v.signature)
	}
	f.Add("", "0x")
	f.Add("x", "0x"+strings.Repeat("f", 130))
	f.Add("x", strings.Repeat("0", 130))
	f.Fuzz(func(t *testing.T, msg, sig string) {
		addr, err := RecoverAddress(msg, sig)
		if err != nil {
			if !errors.Is(err, ErrInvalidSignature) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if norm, nerr := NormalizeAddress(addr); nerr != nil || norm != addr {
			t.Fatalf("recovered address %q not canonical: %v", addr, nerr)
		}
	})
}

func FuzzNormalizeAddress(f *testing.F) {
	f.Add(hardhatAddress)
	f.Add(strings.ToLower(hardhatAddress))
	f.Add("0x")
	f.Fuzz(func(t *testing.T, a string) {
		got, err := NormalizeAddress(a)
		if err != nil {
			return
		}
		again, err := NormalizeAddress(got)
		if err != nil || again != got || !strings.EqualFold(got, a) {
			t.Fatalf("NormalizeAddress not idempotent: %q -> %q -> %q (%v)", a, got, again, err)
		}
	})
}

func BenchmarkSignMessage(b *testing.B) {
	w, _ := NewWallet(hardhatKey)
	for b.Loop() {
		if _, err := w.SignMessage("3f1c7a42-9f55-4b4e-8a4e-2b7c0c8f8f10"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRecoverAddress(b *testing.B) {
	for b.Loop() {
		if _, err := RecoverAddress("hello world", signVectors[0].signature); err != nil {
			b.Fatal(err)
		}
	}
}
