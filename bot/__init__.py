"""The chibo runtime: settings, i18n, channel adapters, outbound delivery and the command line."""
