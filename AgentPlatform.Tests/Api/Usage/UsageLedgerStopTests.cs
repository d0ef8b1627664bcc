using AgentPlatform.Api;
using AgentPlatform.Api.Usage;
using AgentPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AgentPlatform.Tests.Api.Usage;

public sealed class UsageLedgerStopTests
{
    [Fact]
    public async Task A_ledger_stopping_after_its_connection_was_closed_gives_up_at_once_and_says_how_many_records_it_lost()
    {
        await using var redis = await TestRedis.StartAsync();
        var logs = new CapturingLoggerProvider();
        using var services = new ServiceCollection().AddMetrics().AddLogging(logging => logging.AddProvider(logs)).BuildServiceProvider();
        var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var ledger = new UsageLedger(connection, Options.Create(new ApiOptions()), services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            TimeProvider.System, services.GetRequiredService<ILogger<UsageLedger>>());
        await ledger.RecordAsync(new UsageRecord { Id = "closed-1", Model = "m" });
        await ledger.RecordAsync(new UsageRecord { Id = "closed-2", Model = "m" });

        // As when the host's services are disposed while a stop is still writing: a closed connection
        // never answers again, so retrying it (minutes, at the stop's backoff) would only hold the shutdown.
        await connection.DisposeAsync();
        await ledger.StopAsync(CancellationToken.None).WaitAsync(Eventually.Soon);

        var lost = Assert.Single(logs.Logs, log => log.EventId.Id == 2023);
        Assert.Equal(LogLevel.Critical, lost.Level);
        Assert.Contains("2 usage records could not be written", lost.Message, StringComparison.Ordinal);
    }
}
