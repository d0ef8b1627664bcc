using System.Net;
using AgentPlatform.Api;
using AgentPlatform.Tests.Infrastructure;

namespace AgentPlatform.Tests.Api;

[Collection(PlatformCollection.Name)]
public sealed class ApiConfigurationTests(PlatformFixture platform)
{
    [Fact]
    public async Task An_invalid_edit_of_a_reloading_source_leaves_the_running_api_as_it_was()
    {
        var configuration = new ReloadableConfiguration();
        await using var api = new KestrelApp<ApiOptions>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:cache"] = platform.Redis.ConnectionString,
            ["services:router:http:0"] = platform.Router.BaseAddress.ToString(),
            ["AgentPlatform:MasterKey"] = PlatformFixture.MasterKey,
            ["Logging:LogLevel:Default"] = "Warning",
        }, extraConfiguration: configuration).Start();
        using var client = api.CreateHttpClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", PlatformFixture.MasterKey);

        // Too short to be a master key: refused at start, and here it must not take the running Api down.
        configuration.Change(new Dictionary<string, string?> { ["AgentPlatform:MasterKey"] = "short" });

        using var response = await client.PostAsync("/v1/chat/completions", Json.Chat());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("AgentPlatform:MaxChoices", "0", "AgentPlatform:MaxChoices")]
    [InlineData("Cache:TtlSeconds", "0", "Cache:TtlSeconds")]
    [InlineData("Alerts:DeliveryAttempts", "0", "Alerts:DeliveryAttempts")]
    [InlineData("Shutdown:DrainTimeoutSeconds", "-1", "Shutdown:DrainTimeoutSeconds")]
    [InlineData("Agents:ThreadTtlHours", "0", "Agents:ThreadTtlHours")]
    [InlineData("Agents:RunRetentionHours", "-1", "Agents:RunRetentionHours")]
    [InlineData("Agents:McpAllowedHosts:0", "https://tools.example.com", "'https://tools.example.com'")]
    [InlineData("Agents:McpAllowedHosts:0", "*", "Agents:McpAllowedHosts")]
    public void An_api_with_an_invalid_setting_refuses_to_start_naming_it(string key, string value, string named)
    {
        using var api = new KestrelApp<ApiOptions>(PlatformFixture.ApiSettings(platform.Redis, platform.Router.BaseAddress,
            new Dictionary<string, string?> { [key] = value }));

        var failure = Assert.ThrowsAny<Exception>(() => api.Start());

        Assert.Contains(named, failure.ToString());
    }
}
