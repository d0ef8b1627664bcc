using AgentPlatform.Router.Configuration;
using AgentPlatform.Tests.Infrastructure;

namespace AgentPlatform.Tests.Router.Configuration;

[Collection(PlatformCollection.Name)]
public sealed class RouterConfigurationTests(PlatformFixture platform)
{
    [Theory]
    [InlineData("Router:Retry:MaxAttempts", "0")]
    [InlineData("Router:CircuitBreaker:FailureRatio", "2")]
    [InlineData("Router:Timeouts:IdleSeconds", "0")]
    [InlineData("Router:LatencyDecaySeconds", "0")]
    public void A_router_with_an_invalid_setting_refuses_to_start_naming_it(string key, string value)
    {
        using var router = new KestrelApp<RouterOptions>(new Dictionary<string, string?>(platform.SimulatorGroup("unstarted"))
        {
            ["ConnectionStrings:cache"] = platform.Redis.ConnectionString,
            ["AgentPlatform:InternalKey"] = TestKeys.Internal,
            [key] = value,
        });

        var failure = Assert.ThrowsAny<Exception>(() => router.Start());

        Assert.Contains(key, failure.ToString());
    }
}
