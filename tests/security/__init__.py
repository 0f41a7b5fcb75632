"""The adversarial suite: leaks checked at the receiving end, hostile files and inputs."""
