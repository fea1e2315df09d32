"""Tests of the web dashboard (`playbook serve`)."""
