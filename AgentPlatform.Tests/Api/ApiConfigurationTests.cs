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
}
