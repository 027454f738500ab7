"""Stand-ins for the providers the service talks to, served on loopback."""
