"""Core data layer: settings, the raw input contract, the clean tables, quality suites, the
warehouse, the market as known at D, the model store and run accounting."""
