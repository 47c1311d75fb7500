//! Registered strategies are chosen like the built-ins: by name, in TOML, with `set`, and
//! built by `Engine::new` for every instrument; built-in names cannot be taken.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default,
    dead_code
)]

mod common;

use rust_decimal::Decimal;
use scalper_engine::strategy::{
    factory, register, strategy_names, EmaCross, EmaCrossConfig, StrategyParams,
};
use scalper_engine::{EngineConfig, StrategyConfig};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Params {
    fast: u32,
    slow: u32,
}

impl StrategyParams for Params {
    fn validate(&self) -> Result<(), scalper_engine::ConfigError> {
        if self.fast >= self.slow {
            return Err(scalper_engine::strategy::invalid("fast", "below slow"));
        }
        Ok(())
    }
}

fn setup() {
    register(factory("my-ema", |p: Params, _i| {
        EmaCross::new(EmaCrossConfig {
            fast: p.fast,
            slow: p.slow,
            size: Decimal::ONE,
        })
    }))
    .unwrap();
}

#[test]
fn registered_strategies_are_chosen_like_builtins() {
    setup();
    assert!(strategy_names().contains(&"my-ema".to_string()));
    let mut s = StrategyConfig::from_name("MY_EMA").unwrap();
    assert_eq!(s.name(), "my-ema");
    // Default params (0, 0) are invalid; set them together, then validate.
    assert!(s.validate().is_err());
    s.set_unvalidated("fast", "5").unwrap();
    s.set_unvalidated("slow", "20").unwrap();
    s.validate().unwrap();
    let err = s.set("nope", "1").unwrap_err().to_string();
    assert!(err.contains("nope"), "{err}");

    let cfg: EngineConfig =
        toml::from_str("strategy = { kind = \"my-ema\", fast = 3, slow = 9 }").unwrap();
    let StrategyConfig::Custom(c) = &cfg.strategy else {
        panic!("{:?}", cfg.strategy)
    };
    assert_eq!(c.params()["slow"].as_integer(), Some(9));
    // Serialises back to the same TOML.
    let again: EngineConfig = toml::from_str(&toml::to_string(&cfg).unwrap()).unwrap();
    assert_eq!(again.strategy, cfg.strategy);
    // The engine builds it for an instrument.
    scalper_engine::Engine::new(
        cfg,
        vec![common::instrument()],
        scalper_engine::EngineInit::default(),
    )
    .unwrap();

    let unknown = toml::from_str::<EngineConfig>("strategy = { kind = \"nope\" }")
        .unwrap_err()
        .to_string();
    assert!(
        unknown.contains("my-ema") && unknown.contains("ema-cross"),
        "{unknown}"
    );
    // Built-ins keep their schema.
    let bad = toml::from_str::<EngineConfig>("strategy = { kind = \"ema-cross\", x = 1 }");
    assert!(bad.is_err());
}

#[test]
fn builtin_names_cannot_be_registered() {
    let f = factory("ema_cross", |p: Params, _i| {
        EmaCross::new(EmaCrossConfig {
            fast: p.fast,
            slow: p.slow,
            size: Decimal::ONE,
        })
    });
    assert!(register(f).is_err());
}
