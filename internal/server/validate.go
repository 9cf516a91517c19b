package server

import (
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/device"
	"github.com/latchkey/latchkey/internal/seal"
)

// Validate reports every problem with cfg at once: its own settings
// (config.Config.Validate) and the user code policy, which package device
// judges against the guessing budget the configuration sets. `serve` runs
// it before anything starts.
func Validate(cfg config.Config) error {
	errs := []error{cfg.Validate()}
	rules, err := codeRules(cfg)
	if err != nil {
		errs = append(errs, err)
	} else {
		errs = append(errs, rules.Policy.Check("device.user_code", rules.Budget)...)
	}
	if _, err := languages(cfg.Pages); err != nil {
		errs = append(errs, err)
	}
	if len(cfg.SecretsKeys) > 0 {
		if _, err := seal.Parse(cfg.SecretsKeys); err != nil {
			errs = append(errs, fmt.Errorf("secrets_keys: %w", err))
		}
	}
	return errors.Join(errs...)
}

// codeRules are the server's user code policy and guessing budget, from
// the configuration's device settings.
func codeRules(cfg config.Config) (device.Rules, error) {
	d := cfg.Device
	p, err := device.NewPolicy(d.UserCode.Alphabet, d.UserCode.Length, d.UserCode.Group)
	if err != nil {
		return device.Rules{}, fmt.Errorf("device.user_code.alphabet: %w", err)
	}
	// A guesser spends whichever per-source budget is larger.
	return device.Rules{Policy: p, Budget: device.Budget{
		Attempts:  max(d.AttemptsPerAccount, d.AttemptsPerIP),
		LiveCodes: d.ExpectedLiveCodes,
	}}, nil
}
