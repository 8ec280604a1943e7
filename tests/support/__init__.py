"""What the tests of every tier share: databases, processes, leagues, the stand-in web app."""
