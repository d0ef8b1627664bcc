namespace AgentPlatform.Tests.Infrastructure;

/// <summary>
/// The platform's shared secrets in the tests, given to every service a test starts (as the AppHost
/// gives them): the internal key the Api presents to the Router, and the key Prometheus scrapes with.
/// </summary>
public static class TestKeys
{
    public const string Internal = "test-internal-key-0123456789abcdef";
    public const string Metrics = "test-metrics-key-0123456789abcdef";

    /// <summary>
    /// The settings every service of the tests starts with; a test's own settings win. The limit on
    /// failed authentications is off: every test calls from 127.0.0.1, so one test's refused keys would
    /// turn the next test away (the tests of the limit turn it on).
    /// </summary>
    public static IEnumerable<KeyValuePair<string, string?>> Settings =>
    [
        new("AgentPlatform:InternalKey", Internal),
        new("AgentPlatform:MetricsKey", Metrics),
        new("AgentPlatform:MaxFailedAuthentications", "0"),
    ];

    /// <summary>
    /// A client of a service that presents the internal key when the service is a Router, as the Api
    /// does: tests call Routers directly to test the pool.
    /// </summary>
    public static HttpClient Client(Uri baseAddress, bool isRouter)
    {
        var client = new HttpClient { BaseAddress = baseAddress };
        if (isRouter)
        {
            client.DefaultRequestHeaders.Authorization = new("Bearer", Internal);
        }
        return client;
    }
}
