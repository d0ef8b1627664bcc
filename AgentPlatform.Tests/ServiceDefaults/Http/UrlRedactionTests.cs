using System.Collections.Concurrent;
using System.Diagnostics;
using AgentPlatform.ServiceDefaults.Http;
using AgentPlatform.Simulator;
using AgentPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AgentPlatform.Tests.ServiceDefaults.Http;

public sealed class UrlRedactionTests
{
    [Fact]
    public async Task A_client_marked_to_redact_records_where_it_went_and_not_the_secret_in_its_url()
    {
        await using var server = new KestrelApp<SimulatorOptions>(new Dictionary<string, string?>()).Start();
        var builder = Host.CreateApplicationBuilder();
        builder.AddServiceDefaults();
        builder.Services.AddHttpClient("webhooks").RedactUrlInTraces();
        builder.Services.AddHttpClient("plain");
        using var host = builder.Build();
        await host.StartAsync();
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "System.Net.Http",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        var factory = host.Services.GetRequiredService<IHttpClientFactory>();

        using (await factory.CreateClient("webhooks").PostAsync(new Uri(server.BaseAddress, "services/T0/B0/SECRET-TOKEN?sig=SECRET-SIG"), null)) { }
        using (await factory.CreateClient("plain").GetAsync(new Uri(server.BaseAddress, "health/visible"))) { }
        await host.StopAsync();

        var urls = spans.Select(span => span.GetTagItem("url.full") as string).ToList();
        Assert.Contains($"{server.BaseAddress.Scheme}://{server.BaseAddress.Authority}/[redacted]", urls);
        Assert.DoesNotContain(urls, url => url?.Contains("SECRET", StringComparison.Ordinal) == true);
        Assert.Contains(urls, url => url?.EndsWith("/health/visible", StringComparison.Ordinal) == true); // others keep theirs
    }
}
