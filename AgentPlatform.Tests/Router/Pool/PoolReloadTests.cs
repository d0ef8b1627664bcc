using System.Net;
using AgentPlatform.Router.Pool;
using AgentPlatform.Router.Resilience;
using AgentPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AgentPlatform.Tests.Router.Pool;

[Collection(PlatformCollection.Name)]
public sealed class PoolReloadTests(PlatformFixture platform)
{
    [Fact]
    public async Task An_edited_pool_takes_effect_without_a_restart_and_an_invalid_edit_keeps_the_last_good_one()
    {
        var configuration = new ReloadableConfiguration();
        var logs = new CapturingLoggerProvider();
        await using var router = platform.StartRouter(new Dictionary<string, string?>(platform.SimulatorGroup("reload"))
        {
            ["Router:CircuitBreaker:BreakDurationSeconds"] = "60",
            ["Logging:LogLevel:AgentPlatform.Router"] = "Information",
        }, logs, configuration);
        var pool = router.Services.GetRequiredService<ModelPool>();
        using var client = router.CreateHttpClient();
        var simA = pool.FindDeployment("reload", "sim-a")!;
        for (var i = 0; i < 5; i++)
        {
            simA.Breaker.OnFailure("test");
        }
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync("/v1/chat/completions", Json.Chat(model: "added"))).StatusCode);

        configuration.Change(new Dictionary<string, string?>
        {
            ["Router:ModelGroups:reload:Deployments:1:Weight"] = "3",
            ["Router:ModelGroups:added:Deployments:0:Name"] = "late",
            ["Router:ModelGroups:added:Deployments:0:BaseUrl"] = $"{platform.SimB.BaseAddress}v1",
            ["Router:ModelGroups:added:Deployments:0:Model"] = "sim-model",
        });

        using (var added = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "added")))
        {
            Assert.Equal(HttpStatusCode.OK, added.StatusCode);
            Assert.Equal("late", added.Headers.GetValues("x-agentplatform-deployment").Single());
        }
        Assert.Same(simA, pool.FindDeployment("reload", "sim-a")); // unchanged: its open breaker stays
        Assert.Equal(CircuitState.Open, simA.Breaker.State);
        Assert.Equal(3, pool.FindDeployment("reload", "sim-b")!.Weight);
        Assert.Contains(logs.Logs, l => l.EventId.Id == 1020);

        configuration.Change(new Dictionary<string, string?> { ["Router:ModelGroups:reload:Deployments:0:Weight"] = "-1" });

        var refusal = Assert.Single(logs.Logs, l => l.EventId.Id == 1021);
        Assert.Contains("Router:ModelGroups:reload:Deployments:0:Weight -1 must be a positive number", refusal.Message);
        Assert.Same(simA, pool.FindDeployment("reload", "sim-a"));
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/v1/chat/completions", Json.Chat(model: "added"))).StatusCode);

        configuration.Change(new Dictionary<string, string?>
        {
            ["Router:ModelGroups:reload:Deployments:0:Weight"] = null,
            ["Router:ModelGroups:added:Deployments:0:Name"] = null,
            ["Router:ModelGroups:added:Deployments:0:BaseUrl"] = null,
            ["Router:ModelGroups:added:Deployments:0:Model"] = null,
        });

        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync("/v1/chat/completions", Json.Chat(model: "added"))).StatusCode);
    }
}
