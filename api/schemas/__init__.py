"""Response schemas; request schemas are the services' input models."""
