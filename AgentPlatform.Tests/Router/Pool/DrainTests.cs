using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgentPlatform.Tests.Infrastructure;

namespace AgentPlatform.Tests.Router.Pool;

/// <summary>A deployment drained by hand through any replica gets no new requests from any replica.</summary>
[Collection(PlatformCollection.Name)]
public sealed class DrainTests(PlatformFixture platform) : IAsyncLifetime
{
    private const string Group = "drainable"; // drains are shared through Redis: a group no other test uses
    public Task InitializeAsync() => platform.ResetSimulatorsAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_drain_made_through_one_replica_holds_on_every_replica_until_it_is_ended()
    {
        var settings = platform.SimulatorGroup(Group);
        await using var first = platform.StartRouter(settings);
        await using var second = platform.StartRouter(settings);
        using var firstClient = first.CreateHttpClient();
        using var secondClient = second.CreateHttpClient();
        try
        {
            using var drained = await firstClient.PostAsJsonAsync($"/admin/v1/deployments/{Group}/sim-a/drain", new { reason = "provider maintenance" });

            Assert.Equal(HttpStatusCode.OK, drained.StatusCode);
            var described = await drained.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("provider maintenance", described.GetProperty("drained").GetProperty("reason").GetString());
            Assert.False(described.GetProperty("available").GetBoolean());
            await WaitForDrainAsync(secondClient, drained: true);
            await SendAsync(secondClient, 20);
            Assert.Equal(0, await PlatformFixture.SimulatorRequestsAsync(platform.SimA));
            Assert.Equal(20, await PlatformFixture.SimulatorRequestsAsync(platform.SimB));

            // A replica that starts after the drain reads it from Redis.
            await using var third = platform.StartRouter(settings);
            using var thirdClient = third.CreateHttpClient();
            Assert.Equal("provider maintenance", (await DeploymentAsync(thirdClient, "sim-a")).GetProperty("drained").GetProperty("reason").GetString());

            using var undrained = await secondClient.DeleteAsync($"/admin/v1/deployments/{Group}/sim-a/drain");

            Assert.Equal(HttpStatusCode.OK, undrained.StatusCode);
            await WaitForDrainAsync(firstClient, drained: false);
            await SendAsync(firstClient, 20);
            Assert.True(await PlatformFixture.SimulatorRequestsAsync(platform.SimA) > 0, "sim-a is back in rotation");
        }
        finally
        {
            await firstClient.DeleteAsync($"/admin/v1/deployments/{Group}/sim-a/drain");
        }
    }

    [Fact]
    public async Task A_group_with_every_deployment_drained_answers_503_at_once()
    {
        await using var router = platform.StartRouter(platform.SimulatorGroup(Group + "-all"));
        using var client = router.CreateHttpClient();
        try
        {
            foreach (var name in new[] { "sim-a", "sim-b" })
            {
                using var drained = await client.PostAsync($"/admin/v1/deployments/{Group}-all/{name}/drain", content: null);
                Assert.Equal(HttpStatusCode.OK, drained.StatusCode);
                Assert.Equal(JsonValueKind.Null, (await drained.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("drained").GetProperty("reason").ValueKind);
            }

            using var response = await client.PostAsync("/v1/chat/completions", Json.Chat(model: Group + "-all"));

            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal(0, await PlatformFixture.SimulatorRequestsAsync(platform.SimA) + await PlatformFixture.SimulatorRequestsAsync(platform.SimB));
        }
        finally
        {
            await client.DeleteAsync($"/admin/v1/deployments/{Group}-all/sim-a/drain");
            await client.DeleteAsync($"/admin/v1/deployments/{Group}-all/sim-b/drain");
        }
    }

    [Fact]
    public async Task Draining_through_the_api_wants_the_master_key_and_names_what_is_wrong()
    {
        await using var router = platform.StartRouter(platform.SimulatorGroup(Group + "-api"));
        await using var api = platform.StartApi(router.BaseAddress);
        using var anonymous = api.CreateHttpClient();
        using var admin = api.CreateHttpClient();
        admin.DefaultRequestHeaders.Authorization = new("Bearer", PlatformFixture.MasterKey);
        try
        {
            using var refused = await anonymous.PostAsync($"/admin/v1/deployments/{Group}-api/sim-a/drain", content: null);
            using var unknown = await admin.PostAsync($"/admin/v1/deployments/{Group}-api/no-such/drain", content: null);
            using var tooLong = await admin.PostAsJsonAsync($"/admin/v1/deployments/{Group}-api/sim-a/drain", new { reason = new string('x', 501) });
            using var notJson = await admin.PostAsync($"/admin/v1/deployments/{Group}-api/sim-a/drain", new StringContent("drain it", System.Text.Encoding.UTF8, "application/json"));
            using var drained = await admin.PostAsJsonAsync($"/admin/v1/deployments/{Group}-api/sim-a/drain", new { reason = "bad answers" });

            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
            Assert.Equal("deployment_not_found", (await Json.ReadErrorAsync(unknown)).GetProperty("code").GetString());
            Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
            Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
            Assert.Equal(HttpStatusCode.OK, drained.StatusCode);
            var listed = (await admin.GetFromJsonAsync<JsonElement>("/admin/v1/deployments")).GetProperty("data").EnumerateArray()
                .Single(d => d.GetProperty("modelGroup").GetString() == Group + "-api" && d.GetProperty("name").GetString() == "sim-a");
            Assert.Equal("bad answers", listed.GetProperty("drained").GetProperty("reason").GetString());
        }
        finally
        {
            await admin.DeleteAsync($"/admin/v1/deployments/{Group}-api/sim-a/drain");
        }
    }

    private static Task WaitForDrainAsync(HttpClient router, bool drained) =>
        Eventually.TrueAsync(async () => (await DeploymentAsync(router, "sim-a")).GetProperty("drained").ValueKind == JsonValueKind.Null != drained,
            $"the other replica to see the deployment {(drained ? "drained" : "back")}");

    private static async Task<JsonElement> DeploymentAsync(HttpClient router, string name) =>
        (await router.GetFromJsonAsync<JsonElement>("/admin/v1/deployments")).GetProperty("data").EnumerateArray()
            .Single(d => d.GetProperty("modelGroup").GetString() == Group && d.GetProperty("name").GetString() == name);

    private static async Task SendAsync(HttpClient router, int count)
    {
        for (var i = 0; i < count; i++)
        {
            using var response = await router.PostAsync("/v1/chat/completions", Json.Chat(model: Group));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

}
