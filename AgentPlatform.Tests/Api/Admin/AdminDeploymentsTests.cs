using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Tests.Infrastructure;

namespace AgentPlatform.Tests.Api.Admin;

[Collection(PlatformCollection.Name)]
public sealed class AdminDeploymentsTests(PlatformFixture platform)
{
    [Fact]
    public async Task Deployments_show_their_live_state_and_never_a_provider_key()
    {
        // A Router and Api of its own: the failures below open sim-a's breaker, which must not leak into other tests.
        await using var router = platform.StartRouter(new RouterSettings
        {
            // sim-a first, always: it is the one that fails
            { "default", new ModelGroupOptions { Deployments = [RouterSettings.Deployment("sim-a", platform.SimA.BaseAddress), RouterSettings.Deployment("sim-b", platform.SimB.BaseAddress, priority: 1)] } },
            { "recorded", new ModelGroupOptions { Deployments = [new() { Name = "recorder", BaseUrl = $"{platform.Recorder.BaseAddress}v1/", Model = "upstream-model", ApiKey = "sk-provider-secret" }] } },
        });
        await using var api = platform.StartApi(router.BaseAddress);
        using var client = api.CreateHttpClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", PlatformFixture.MasterKey);
        using var simA = platform.SimA.CreateHttpClient();
        await simA.PostAsJsonAsync("/sim/faults", new { kind = "500", rate = 1.0 });
        try
        {
            for (var i = 0; i < 6; i++)
            {
                using var answer = await client.PostAsync("/v1/chat/completions", Json.Chat(extra: $",\"seed\":{i}"));
                Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            }
        }
        finally
        {
            await simA.DeleteAsync("/sim/faults");
        }

        using var response = await client.GetAsync("/admin/v1/deployments");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("sk-provider-secret", text);
        var deployments = JsonDocument.Parse(text).RootElement.GetProperty("data").EnumerateArray().ToList();
        var recorder = deployments.Single(d => d.GetProperty("modelGroup").GetString() == "recorded");
        Assert.Equal("openai", recorder.GetProperty("provider").GetString());
        Assert.Equal("closed", recorder.GetProperty("breaker").GetProperty("state").GetString());
        var failing = deployments.Single(d => d.GetProperty("modelGroup").GetString() == "default" && d.GetProperty("name").GetString() == "sim-a");
        Assert.True(failing.GetProperty("errorRateLastMinute").GetDouble() > 0);
        Assert.Contains("answered 500", failing.GetProperty("lastError").GetProperty("message").GetString());
        Assert.True(failing.GetProperty("attemptsLastMinute").GetInt64() > 0);
    }

    [Fact]
    public async Task The_admin_api_wants_the_master_key()
    {
        using var client = platform.Api.CreateHttpClient();

        using var response = await client.GetAsync("/admin/v1/deployments");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("missing_api_key", (await Json.ReadErrorAsync(response)).GetProperty("code").GetString());
    }
}
