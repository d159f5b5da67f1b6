"""What tests share besides fixtures: paths, fixture data readers, lake settings, the HTTP
server. Tests import these modules directly; conftest.py holds only the fixtures."""
