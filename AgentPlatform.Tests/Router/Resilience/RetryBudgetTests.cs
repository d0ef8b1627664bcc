using AgentPlatform.Router.Configuration;
using AgentPlatform.Router.Resilience;
using Microsoft.Extensions.Time.Testing;

namespace AgentPlatform.Tests.Router.Resilience;

public sealed class RetryBudgetTests
{
    [Fact]
    public void Retries_are_capped_at_the_ratio_of_requests_plus_the_floor()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var budget = new RetryBudget(new RetryOptions { BudgetRatio = 0.2, BudgetMinPerSecond = 1 }, time);
        for (var i = 0; i < 100; i++)
        {
            budget.OnRequest();
        }

        var granted = Enumerable.Range(0, 100).Count(_ => budget.TryWithdraw());

        Assert.Equal(20 + 10, granted); // 20% of 100 requests, plus 1/s over the 10-second window
    }

    [Fact]
    public void Spent_retries_come_back_as_the_window_moves_on()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var budget = new RetryBudget(new RetryOptions { BudgetRatio = 0, BudgetMinPerSecond = 1 }, time);
        while (budget.TryWithdraw())
        {
        }

        time.Advance(TimeSpan.FromSeconds(11));

        Assert.True(budget.TryWithdraw());
    }
}
