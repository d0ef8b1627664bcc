using System.Net.Http.Headers;
using AgentPlatform.Router.Resilience;

namespace AgentPlatform.Tests.Router.Resilience;

public sealed class RetryAfterTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 27, 10, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("20ms", 0.02)]
    [InlineData("1s", 1)]
    [InlineData("1.5s", 1.5)]
    [InlineData("6m0s", 360)]
    [InlineData("1h2m3s", 3723)]
    public void Parses_openai_reset_durations(string text, double seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), RetryAfter.ParseDuration(text));

    [Theory]
    [InlineData("")]
    [InlineData("soon")]
    [InlineData("5 parsecs")]
    [InlineData("5")]
    public void Rejects_what_is_not_a_duration(string text) => Assert.Null(RetryAfter.ParseDuration(text));

    [Fact]
    public void Retry_after_ms_wins_over_retry_after_seconds()
    {
        var headers = Headers(("retry-after-ms", "1500"), ("Retry-After", "9"));

        Assert.Equal(TimeSpan.FromMilliseconds(1500), RetryAfter.From(headers, Now));
    }

    [Fact]
    public void Retry_after_as_seconds_or_as_a_date()
    {
        Assert.Equal(TimeSpan.FromSeconds(2), RetryAfter.From(Headers(("Retry-After", "2")), Now));
        Assert.Equal(TimeSpan.FromSeconds(30), RetryAfter.From(Headers(("Retry-After", Now.AddSeconds(30).ToString("R"))), Now));
    }

    [Fact]
    public void The_reset_of_the_exhausted_limit_is_used_when_no_retry_after_is_sent()
    {
        var headers = Headers(
            ("x-ratelimit-remaining-requests", "12"), ("x-ratelimit-reset-requests", "1s"),
            ("x-ratelimit-remaining-tokens", "0"), ("x-ratelimit-reset-tokens", "6m0s"));

        Assert.Equal(TimeSpan.FromMinutes(6), RetryAfter.From(headers, Now));
    }

    [Fact]
    public void No_time_when_the_response_names_none() => Assert.Null(RetryAfter.From(Headers(), Now));

    private static HttpResponseHeaders Headers(params (string Name, string Value)[] headers)
    {
        var response = new HttpResponseMessage();
        foreach (var (name, value) in headers)
        {
            response.Headers.TryAddWithoutValidation(name, value);
        }
        return response.Headers;
    }
}
