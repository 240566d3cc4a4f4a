"""Everything that touches the world: drivers, backends, TLS, files, env, CLI, mock server."""
