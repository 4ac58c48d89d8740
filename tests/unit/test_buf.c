/*
 * test_buf.c - the growable buffer of buf.h: the first capacity, doubling,
 * appends that keep what was there, empty appends, and sizes that would
 * overflow refused with the buffer left as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signet/buf.h>
#include <string.h>

static void test_first_capacity_and_doubling(void **state)
{
	struct signet_buf b = { 0 };
	(void)state;

	assert_int_equal(signet_buf_append(&b, "0123456789", 10, 16), 0);
	assert_int_equal(b.len, 10);
	assert_int_equal(b.cap, 16);
	/* 10 + 25 = 35 does not fit 16 nor 32: the capacity doubles twice */
	assert_int_equal(signet_buf_append(&b, "abcdefghijklmnopqrstuvwxy", 25, 16), 0);
	assert_int_equal(b.len, 35);
	assert_int_equal(b.cap, 64);
	assert_memory_equal(b.p, "0123456789abcdefghijklmnopqrstuvwxy", 35);
	/* a fitting append does not move the capacity; `first` applies only
	 * to an empty buffer */
	assert_int_equal(signet_buf_append(&b, "z", 1, 1 << 20), 0);
	assert_int_equal(b.cap, 64);
	assert_int_equal(b.len, 36);
	signet_buf_free(&b);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
}

static void test_default_first_and_empty_append(void **state)
{
	struct signet_buf b = { 0 };
	(void)state;

	assert_int_equal(signet_buf_append(&b, NULL, 0, 0), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(signet_buf_append(&b, "x", 1, 0), 0);
	assert_int_equal(b.cap, 4096);
	assert_int_equal(signet_buf_reserve(&b, 4095, 0), 0);
	assert_int_equal(b.cap, 4096);
	assert_int_equal(signet_buf_reserve(&b, 4096, 0), 0);
	assert_int_equal(b.cap, 8192);
	assert_int_equal(b.len, 1);
	signet_buf_free(&b);
}

static void test_overflow_refused(void **state)
{
	struct signet_buf b = { 0 };
	unsigned char *p;
	(void)state;

	assert_int_equal(signet_buf_append(&b, "abc", 3, 8), 0);
	p = b.p;
	assert_int_equal(signet_buf_reserve(&b, SIZE_MAX, 8), -1);
	assert_int_equal(signet_buf_reserve(&b, SIZE_MAX - 2, 8), -1);
	assert_int_equal(signet_buf_append(&b, "d", SIZE_MAX / 2 + 2, 8), -1);
	assert_ptr_equal(b.p, p);
	assert_int_equal(b.len, 3);
	assert_int_equal(b.cap, 8);
	assert_memory_equal(b.p, "abc", 3);
	signet_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_capacity_and_doubling),
		cmocka_unit_test(test_default_first_and_empty_append),
		cmocka_unit_test(test_overflow_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
