using Aspire.Hosting;
using Aspire.Hosting.Testing;

namespace AgentPlatform.Tests.EndToEnd;

/// <summary>
/// The path of a machine with nothing but the SDK: no container runtime, no redis-server. The
/// platform must come up on the Garnet server embedded in the AppHost. (The main end-to-end
/// fixture takes whatever the machine offers, redis-server in CI.)
/// </summary>
public sealed class EmbeddedGarnetTests
{
    [Fact]
    public async Task The_platform_becomes_healthy_and_answers_on_embedded_garnet()
    {
        var timeout = AppHostFixture.DefaultTimeout;
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AgentPlatform_AppHost>(
            [
                $"--Parameters:master-key={AppHostFixture.MasterKey}",
                "--AgentPlatform:Redis=garnet",
                "--AgentPlatform:Ports:Api=0",
                "--AgentPlatform:Ports:Web=0",
            ],
            (options, _) => options.DisableDashboard = true);
        await using var app = await builder.BuildAsync().WaitAsync(timeout);

        await app.StartAsync().WaitAsync(timeout);
        await app.ResourceNotifications.WaitForResourceHealthyAsync("cache").WaitAsync(timeout);
        await app.ResourceNotifications.WaitForResourceHealthyAsync("api").WaitAsync(timeout);

        using var http = new HttpClient { BaseAddress = app.GetEndpoint("api", "http") };
        http.DefaultRequestHeaders.Authorization = new("Bearer", AppHostFixture.MasterKey);
        using var response = await http.PostAsync("/v1/chat/completions", Infrastructure.Json.Chat()).WaitAsync(timeout);
        var health = await http.GetStringAsync("/health").WaitAsync(timeout);

        Assert.True(response.IsSuccessStatusCode, $"chat answered {(int)response.StatusCode}");
        Assert.Contains("\"StackExchange.Redis\":{\"status\":\"Healthy\"", health);
        await app.StopAsync().WaitAsync(timeout);
    }
}
