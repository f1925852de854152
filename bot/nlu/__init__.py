"""The intent layer: what does the shopper want, and which values did they give?"""
