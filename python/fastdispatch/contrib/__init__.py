"""Integrations of fastdispatch with other packages."""
