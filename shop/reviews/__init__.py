"""Product reviews from verified buyers, published once staff approve them."""
