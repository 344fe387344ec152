pytest_plugins = ["tests.fixtures.pgserver", "tests.fixtures.s3server", "tests.fixtures.server"]
