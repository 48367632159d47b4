"""Rewriting a prompt until it reads like deployment traffic: the loop, the rewriters, the rubric, the guard."""
